REFRESH FEATURES shop.items OPTIONS (reuse = false, batch_size = 16)
