import type { Principal } from './middleware/authenticate.ts';

declare global {
  namespace Express {
    interface Request {
      principal?: Principal;
    }
  }
}
