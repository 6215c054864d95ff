"""ppl.tfp"""
