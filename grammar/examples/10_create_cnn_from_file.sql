CREATE CNN my_net FROM '/models/my_net.keras' OPTIONS (preprocess = 'tf', unsafe_deserialization = true)
