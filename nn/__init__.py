"""Neural networks on deltagrad Values: neurons, layers, MLPs, losses, optimisers, training."""
