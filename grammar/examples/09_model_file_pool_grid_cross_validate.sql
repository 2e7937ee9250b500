TRANSFER FEATURES FROM MODEL '/models/my_net.keras', resnet50
  LAYERS TOP 2 POOL AVG 2
  ON images AS i (id, content) JOIN products AS p ON i.id = p.id
  TRAIN logistic_regression (LABEL is_popular, FEATURES (price), reg_param IN (0.01, 0.1, 1.0))
  EVALUATE CROSS VALIDATE 3 METRICS (accuracy)
  OPTIONS (plan = 'staged', join = broadcast)
