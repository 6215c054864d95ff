"""ppl.mcmc"""
