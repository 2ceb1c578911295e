"""SMS notifications to farmers: an outbox written in the caller's transaction, a worker that
sends through a gateway (console or Twilio), delivery status by webhook (docs/design.md "SMS")."""
