"""Tools run by hand or by make (Python 3.11): the stack runner, the terminal chat, the NLU
data generator and the NLU cross-validation report. Nothing in the running bot imports them."""
