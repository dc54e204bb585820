"""Notification: owns messages to people.

It consumes application and letter events from JetStream (and the internal one-time-code
event), decides who must hear about each one (`rules`: role holders from verification's
directory, Plt included; the applicant's contact from intake; each person's `preferences`),
writes in-app notifications and channel deliveries in one transaction with the processed event,
and sends the deliveries through the channel adapters (`dispatcher`, `channels`: email over SMTP,
WhatsApp Cloud API with an SMS fallback, SMS through Zenziva), recording every attempt. It serves
the in-app inbox over HTTP (with live updates by server-sent events), each person's preferences,
the WhatsApp status webhook and, in the dev profile, the messages its local sinks received.
"""
