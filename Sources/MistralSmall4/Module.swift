// Configs, presets, the tensor inventory and parameter counts of Mistral Small 4.
