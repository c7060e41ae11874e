"""Shared by the others: loading pretrained models from folders or hub ids, reference weights, and
input checks."""
