"""WhatsApp (codex 10.1): a process per connection under a supervisor, push as a tickle.

- :mod:`.supervisor` — a one-for-one supervisor with OTP's restart intensity;
- :mod:`.inbox` — every user's undelivered messages, durable in archlab's LSM, in order;
- :mod:`.server` — the chat server: an actor (task + mailbox) per connection;
- :mod:`.client` — a client for tests and experiments;
- :mod:`.push` — push notifications through a lossy, reordering provider, simulated: a
  tickle that makes the app fetch, vs the message carried in the notification;
- :mod:`.experiments` — ``cases.whatsapp_isolation`` and ``cases.push_tickle``.
"""
