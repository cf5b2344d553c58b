"""Training side of samplersearch: tasks (dataset + model by name), the one training loop,
shared weights and the Ray Tune trainable. No SQL, no HTTP."""
