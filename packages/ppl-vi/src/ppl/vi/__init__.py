"""ppl.vi"""
