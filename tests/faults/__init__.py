"""The fault suite: real node processes under partitions, lossy links, clock skew,
a full disk and SIGKILL (docs/testing.md, "The fault suite")."""
