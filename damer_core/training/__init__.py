"""DAMER training: PCL, SAML, the weighted loss, the loop, checkpoints (paper IV-C to IV-E)."""
