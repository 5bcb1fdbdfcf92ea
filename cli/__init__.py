"""The lim-tf command line (installed as lim_tf_cli); it parses, configures logging and calls lim_tf."""
