"""The gateway's core: the message pipeline, the outbox and delivery worker, the Rasa client,
the danger screen and health. Knows no platform by name: channels (connectors/) implement
bot.core.channel.Channel, and the wiring (gateway/) hands them in."""
