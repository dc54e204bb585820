"""Notification: owns messages to people.

It consumes application and letter events from JetStream (and the internal one-time-code
event), decides who must hear about each one (`rules`), writes in-app notifications and channel
deliveries in one transaction with the processed event, and sends the deliveries through the
channel adapters (`dispatcher`, `channels`), recording every attempt. It serves the in-app inbox
over HTTP and, in the dev profile, the messages its local WhatsApp/SMS sinks received.
"""
