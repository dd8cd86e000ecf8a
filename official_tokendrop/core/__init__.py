"""The TensorFlow pretraining run: experiment configs, the task, the trainer and its checkpoints."""
