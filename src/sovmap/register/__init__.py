"""The inside-out register: processes, services, providers, data and contracts, as files."""
