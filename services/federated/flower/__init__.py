"""The Flower side of federated learning: imported only in the federated environment (ADR 0023).

`runtime` runs one federation end to end; `server_app` and `client_app` are Flower's apps as this
platform assembles them; `engine` is the in-process fleet they run over; `network` the dropouts,
byte counts and tap between them; `partition` the devices' rows; `privacy` the budget spent.
"""
