desc cnn my_net
