"""RabbitMQ's model (codex 7.2): exchanges, bindings, queues, acks and dead-lettering."""
