"""Fine-tuning: the pretrained BERT it starts from, GLUE and SQuAD tasks,
their official metrics, and the training of one head."""
