// The profile the test IdP signs in as, and the attributes it sends: scimd's browser test
// expects this user to be created just in time with these values.
var profile = {
  userName: 'jit.user@example.com',
  nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  firstName: 'Jit',
  lastName: 'User',
  displayName: 'Jit User',
  email: 'jit.user@example.com',
  userType: 'Viewer'
};

var metadata = [
  { id: 'firstName', optional: false, displayName: 'First Name', description: 'Given name', multiValue: false },
  { id: 'lastName', optional: false, displayName: 'Last Name', description: 'Surname', multiValue: false },
  { id: 'displayName', optional: true, displayName: 'Display Name', description: 'Display name', multiValue: false },
  { id: 'email', optional: false, displayName: 'E-Mail Address', description: 'E-mail address', multiValue: false },
  { id: 'userType', optional: true, displayName: 'User Type', description: 'scimd user type', options: ['Viewer', 'Member'] }
];

module.exports = { user: profile, metadata: metadata };
