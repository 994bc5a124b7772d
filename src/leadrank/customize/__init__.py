"""Customizable scoring: weights, rules, exclusions, decay, grade bands, what-if, overrides."""
