"""Provider adapters: one module per upstream type, each knowing its paths and wire format."""
