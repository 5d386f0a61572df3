"""Training adapters around the core: YAML config, augmentation, the (DDP-capable) trainer."""
