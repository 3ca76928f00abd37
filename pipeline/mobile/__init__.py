"""Mobile builds: a web app's URL made into a native app (an Android APK, or an Xcode project for iOS)."""
