"""First-time setup: topology profiles, node checks over SSH, writing farm.yaml."""
