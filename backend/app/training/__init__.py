"""The reference training command (`python -m app.training.reference`), for tests and demos."""
