"""The error every model-folder check raises (kept apart so that the folder reader and its checks share it)."""


class ModelFolderError(ValueError):
    """A model folder that cannot be used as it is; the message names the file, what is wrong and what to do."""
