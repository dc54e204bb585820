"""Intake: the resident gateway.

Owns resident identities (NIK bound to a phone, one-time sign-in codes), applications for
letters, their attachments and their timeline. Serves the resident REST API, starts the approval
workflow on submit, and serves gRPC `IntakeService` so staff can read applications and the
workflow can record each step's outcome. Every change others care about leaves through the
transactional outbox as a CloudEvent on NATS JetStream.
"""
