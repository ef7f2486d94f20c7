"""The guest agent: its protocol (limits, banner, reset methods), the client, image facts."""
