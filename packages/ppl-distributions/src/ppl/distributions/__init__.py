"""ppl.distributions"""
