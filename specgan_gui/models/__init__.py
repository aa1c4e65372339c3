"""GAN1D networks and transfer models (PyTorch); no Qt imports."""
