TRANSFER FEATURES FROM resnet50 WEIGHTS RANDOM SEED 0, vgg16 WEIGHTS RANDOM SEED 0
  LAYERS TOP 3
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)
  EVALUATE SPLIT 0.25 METRICS (f1, accuracy)
  SAVE BEST AS popular_model
