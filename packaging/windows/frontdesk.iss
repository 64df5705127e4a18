; Frontdesk installer for Windows (Inno Setup 6).
;
; Build (from the repository root, after `python -m PyInstaller packaging/frontdesk.spec`):
;   iscc /DAppVersion=0.1.0 packaging\windows\frontdesk.iss
; The version comes from pyproject.toml ([project] version); the workflow
; .github/workflows/windows-installer.yml reads it and passes it in, so this file
; never holds a version of its own.
;
; Per-user install: no administrator rights are needed, the program goes to
; %LOCALAPPDATA%\Programs\Frontdesk. The clinic's data is NOT in that folder: it lives
; in %LOCALAPPDATA%\Frontdesk\Frontdesk (platformdirs user_data_dir("Frontdesk",
; "Frontdesk", roaming=False), see app/store/paths.py), so installing a new version
; over the old one never touches it, and uninstalling keeps it unless the person
; explicitly asks for it to be deleted.

#ifndef AppVersion
  #error AppVersion is not set. Build with: iscc /DAppVersion=<version from pyproject.toml> packaging\windows\frontdesk.iss
#endif

#define AppName "Frontdesk"
#define AppExe "frontdesk.exe"

[Setup]
; The AppId ties every version together (upgrade in place, one entry in
; "Installed apps"). Never change it.
AppId={{5EBCE3C7-D32E-49C4-BE3E-35242537AC66}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Frontdesk
; Non-administrative install mode: {autopf} is the user's own Programs folder
; (%LOCALAPPDATA%\Programs) and shortcuts go to the user's Start menu.
PrivilegesRequired=lowest
DefaultDirName={autopf}\{#AppName}
DisableProgramGroupPage=yes
; The PyInstaller build is 64-bit only (x64 Windows, and Arm64 Windows 11 through emulation).
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Qt 6 needs Windows 10 or newer.
MinVersion=10.0
; Installing over a running copy: Windows Restart Manager finds the running
; frontdesk.exe and Setup offers to close it first (the app has no Windows mutex
; for AppMutex to check, so this is how a running copy is handled).
CloseApplications=yes
RestartApplications=no
UninstallDisplayName={#AppName}
UninstallDisplayIcon={app}\{#AppExe}
WizardStyle=modern
Compression=lzma2
SolidCompression=yes
; Paths are relative to this file's folder (packaging\windows).
OutputDir=..\..\dist
OutputBaseFilename=Frontdesk-Setup-{#AppVersion}

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; A new version brings its own set of libraries; leftovers of the old bundle must
; not be loaded by the new program. (Program files only: the data is elsewhere.)
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "..\..\dist\frontdesk\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The scheduled task for sending reminders when nobody opens the app (admin guide).
Source: "frontdesk-send-due.xml"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
// The clinic's data folder, exactly where the program puts it (platformdirs on
// Windows: %LOCALAPPDATA%\<author>\<app>, both "Frontdesk"). A clinic kept elsewhere
// with FRONTDESK_HOME is never touched by the uninstaller.
function ClinicDataDir(): String;
begin
  Result := ExpandConstant('{localappdata}\Frontdesk\Frontdesk');
end;

// After the program files are gone, offer to delete the clinic data too. The answer
// defaults to No; a silent uninstall (or /SUPPRESSMSGBOXES) always keeps the data.
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep <> usPostUninstall then
    Exit;
  DataDir := ClinicDataDir();
  if (not DirExists(DataDir)) or UninstallSilent() then
    Exit;
  if SuppressibleMsgBox(
       'Frontdesk has been removed. The clinic data is still on this computer, in:' + #13#10 +
       DataDir + #13#10#13#10 +
       'It holds every patient, appointment, call and payment, the key file, the ' +
       'screen preferences and the logs.' + #13#10#13#10 +
       'Also delete the clinic data?' + #13#10#13#10 +
       'Choose No (recommended) to keep it, for example to install Frontdesk again ' +
       'or to move the clinic to another computer.' + #13#10 +
       'Choose Yes only if you are sure: deleted clinic data cannot be recovered ' +
       'unless you have a backup copy of that folder.',
       mbConfirmation, MB_YESNO or MB_DEFBUTTON2, IDNO) <> IDYES then
    Exit;
  if DelTree(DataDir, True, True, True) then
    // Removes the now-empty parent folder only if nothing else is in it.
    RemoveDir(ExpandConstant('{localappdata}\Frontdesk'))
  else
    MsgBox('Some of the clinic data could not be deleted (is Frontdesk still open?).' +
           #13#10 + 'Close Frontdesk and delete this folder by hand:' + #13#10 + DataDir,
           mbError, MB_OK);
end;
