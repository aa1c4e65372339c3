"""specgan_gui: train a 1-D GAN on a few dozen spectra, transfer its
discriminator into a regressor or classifier, and compare it with PLS."""

__version__ = "0.1.0"
