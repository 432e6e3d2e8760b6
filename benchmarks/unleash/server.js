const unleash = require('unleash-server');
unleash.start({
  db: { user: 'postgres', password: 'x', host: '127.0.0.1', port: 5432, database: 'unleash', ssl: false },
  server: { port: 4242, enableRequestLogger: false },
  authentication: {
    initApiTokens: [
      { environment: 'development', projects: ['*'], secret: 'default:development.bench-client-token', type: 'client', tokenName: 'bench-client' },
      { environment: '*', projects: ['*'], secret: '*:*.bench-admin-token', type: 'admin', tokenName: 'bench-admin' },
    ],
  },
  logLevel: 'warn',
}).then(() => console.log('unleash up'));
