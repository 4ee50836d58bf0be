"""Face-swap autoencoders: pure nn.Modules, registered by name, built from a saved config."""

from faceweave.models.registry import FaceSwapModel, ModelConfig, build_model, registered_models, to_tensor

__all__ = ["FaceSwapModel", "ModelConfig", "build_model", "registered_models", "to_tensor"]
