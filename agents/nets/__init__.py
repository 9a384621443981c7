"""Network pieces that several methods share: MLPs, image encoders, action heads."""
