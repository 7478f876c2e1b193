"""The model layer: checkpoint loading, the block-diffusion runtime and sampler, the embedded
demo model."""
