desc model random_forest
