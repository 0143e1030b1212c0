"""The pure analysis core: text and a repository view in, findings and fixes out."""
