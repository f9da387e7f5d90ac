"""Chat sessions over collections: messages, the references each answer was grounded on, and prompt
templates. Shared by the h2oGPTe surface; models are reached through the gateway like everything else."""
