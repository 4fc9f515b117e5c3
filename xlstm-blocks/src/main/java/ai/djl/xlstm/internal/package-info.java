/**
 * Helpers the library's packages share and nothing else should use: tensor utilities, parameter
 * initializers, the mLSTM kernels, atomic file writes and folder locks. The types here are public
 * only because Java has no module-wide visibility on the class path; they are not part of the API,
 * are left out of the Javadoc, and may change in any release.
 */
package ai.djl.xlstm.internal;
