"""Study-assistant gateway: one domain, a GraphQL face and a REST compatibility face."""

__version__ = "0.1.0"
