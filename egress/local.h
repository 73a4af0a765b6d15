/* _egress.local (spec/egress.md §14): answered here, never forwarded. */
#ifndef EG_LOCAL_H
#define EG_LOCAL_H

struct eg_xchg;

/* Writes the answer to the agent and finishes the exchange. */
void	 eg_local_answer(struct eg_xchg *x);

#endif /* EG_LOCAL_H */
