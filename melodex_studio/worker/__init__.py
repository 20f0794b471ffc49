"""The process boundary between the studio and the models: protocol, client, server."""
