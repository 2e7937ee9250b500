explain cost transfer features from resnet50 weights '/models/resnet50_finetuned.weights.h5'
  layers (avg_pool) on imgs (id, content) join t using (id)
  train logistic_regression (label y) evaluate split 0.3 options (partitions = 8)
