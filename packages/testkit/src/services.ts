/** Which real services this run can use (from the environment). */
export const services = {
  postgres: process.env['DATABASE_URL'] || null,
  redis: process.env['REDIS_URL'] || null,
};
