run App
